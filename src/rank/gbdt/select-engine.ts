import { InputError, RecsysError } from '../../util/errors.js';
import type { EngineCli } from './engine-cli.js';
import type { GbdtEngine } from './engine.js';
import { lightgbmCli } from './lightgbm-cli.js';
import { findOnPath, isExecutableFile, type Env } from './program.js';
import { xgboostCli } from './xgboost-cli.js';

export interface SelectedEngine {
  readonly cli: EngineCli;
  /** Absolute path of the program that will run. */
  readonly program: string;
  /** Why this program was chosen, for the log. */
  readonly reason: string;
}

const XGBOOST_HINT = "install XGBoost's CLI with `apt-get install xgboost` (Debian/Ubuntu; scripts/setup.sh does it)";
const LIGHTGBM_HINT =
  "install LightGBM's CLI (`brew install lightgbm`, or build it from https://github.com/microsoft/LightGBM) " +
  'and put `lightgbm` on PATH or set LIGHTGBM_BIN to the program';

/** LIGHTGBM_BIN when set (a path, or a name looked up on PATH), else `lightgbm` on PATH. */
function findLightgbm(env: Env): SelectedEngine | null {
  const bin = env.LIGHTGBM_BIN;
  if (bin) {
    const program = bin.includes('/') ? (isExecutableFile(bin) ? bin : null) : findOnPath(bin, env);
    if (!program) throw new InputError(`LIGHTGBM_BIN=${bin} does not name an executable program; ${LIGHTGBM_HINT}`);
    return { cli: lightgbmCli, program, reason: `LIGHTGBM_BIN=${bin}` };
  }
  const program = findOnPath('lightgbm', env);
  return program ? { cli: lightgbmCli, program, reason: '`lightgbm` found on PATH' } : null;
}

/**
 * Picks the training program: LightGBM when LIGHTGBM_BIN is set or `lightgbm` is on PATH,
 * else Debian's `xgboost`. `choice` forces one engine. Throws a RecsysError saying what was
 * looked for, and how to install it, when nothing usable is found.
 */
export function selectGbdtEngine(choice: 'auto' | GbdtEngine, env: Env): SelectedEngine {
  const path = env.PATH ?? '';
  if (choice !== 'xgboost') {
    const lightgbm = findLightgbm(env);
    if (lightgbm) return lightgbm;
    if (choice === 'lightgbm') {
      throw new RecsysError(
        `no LightGBM program: LIGHTGBM_BIN is not set and there is no \`lightgbm\` on PATH (${path}); ${LIGHTGBM_HINT}`,
      );
    }
  }
  const program = findOnPath('xgboost', env);
  if (program) {
    const reason = choice === 'xgboost' ? 'engine xgboost requested' : 'no LightGBM (LIGHTGBM_BIN unset, no `lightgbm` on PATH)';
    return { cli: xgboostCli, program, reason };
  }
  if (choice === 'xgboost') throw new RecsysError(`no \`xgboost\` program on PATH (${path}); ${XGBOOST_HINT}`);
  throw new RecsysError(
    `no GBDT training program found: looked for LIGHTGBM_BIN (not set), \`lightgbm\` and \`xgboost\` on PATH (${path}). ` +
      `Either ${XGBOOST_HINT}, or ${LIGHTGBM_HINT}`,
  );
}
