import dns from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';

type Callback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
type Lookup = (host: string, options: LookupOptions, callback: Callback) => void;

/**
 * Names under `localhost` resolve to loopback (RFC 6761 §6.3), but glibc's resolver only knows
 * `localhost` itself. The sandbox reaches its vault as `<name>.vault.localhost` and azurite as
 * `devstoreaccount1.table.localhost` (production-style names, as Azure's are), so a process that
 * talks to them is told. Every other name goes to the real resolver; nothing else changes.
 * Returns the function that puts the real resolver back.
 */
export function resolveLocalhostNames(): () => void {
  const real = dns.lookup.bind(dns) as Lookup;
  const patched = (host: string, options: LookupOptions | Callback, callback?: Callback): void => {
    const cb = (typeof options === 'function' ? options : callback) as Callback;
    const opts = typeof options === 'function' ? {} : typeof options === 'number' ? { family: options } : (options ?? {});
    if (!/\.localhost\.?$/i.test(host)) return void real(host, opts, cb);
    if (opts.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
    else cb(null, '127.0.0.1', 4);
  };
  (dns as { lookup: unknown }).lookup = patched;
  return () => {
    (dns as { lookup: unknown }).lookup = real;
  };
}
