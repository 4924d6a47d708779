import { describe, expect, it } from 'vitest';
import { ownTimeMs } from '../../bench/lib/cold-upstream';
import type { ColdStep } from '../../bench/lib/cold-upstream';

// The bench's "our own time" of a cold first vend: its duration less the time upstream services
// held its requests, overlaps counted once, start-up requests and the part past the answer left out.

const step = (atMs: number, heldMs: number, service: ColdStep['service'] = 'Key Vault'): ColdStep => ({ atMs, heldMs, service, request: '/x' });

describe('ownTimeMs', () => {
  it('subtracts requests held one after another', () => {
    expect(ownTimeMs([step(4, 23), step(31, 53, 'Entra ID'), step(89, 4, 'Table storage')], 96)).toBe(16);
  });

  it('counts overlapping holds once and clips them to the vend', () => {
    expect(ownTimeMs([step(10, 30), step(20, 30), step(-50, 55), step(90, 40)], 100)).toBe(100 - 40 - 5 - 10);
  });

  it('ignores a request still unanswered and one nested in another', () => {
    expect(ownTimeMs([step(0, 50), step(10, 5), step(60, Number.NaN)], 80)).toBe(30);
    expect(ownTimeMs([], 12.34)).toBe(12.3);
  });
});
