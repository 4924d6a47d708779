import type { Mode } from '../../policy';
import { aadMode } from './aad-mode';
import type { ModeStrategy } from './mode-strategy';
import { oauthMode } from './oauth-mode';
import { patMode } from './pat-mode';
import { userMode } from './user-mode';

/** Every mode the service vends. Adding one is a new strategy file and one line here. */
export const MODES: Readonly<Record<Mode, ModeStrategy>> = Object.freeze({
  aad: aadMode,
  pat: patMode,
  oauth: oauthMode,
  user: userMode,
});

export type { ModeInput, ModeStrategy, Vended } from './mode-strategy';
