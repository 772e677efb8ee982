// Operator access settings: the `admin` section of the one Config (called from src/config.ts). Who may use the
// `/_/` endpoints is decided by src/admin/access.ts from these and from the `admin` flag of DG_CREDENTIALS keys.
import { ConfigError } from "../errors";

export const ADMIN_TOKEN_VARIABLE = "DG_ADMIN_TOKEN";
/** Long enough that guessing it online is hopeless; `openssl rand -hex 32` makes 64 characters. */
const MIN_TOKEN_LENGTH = 32;

export interface AdminConfig {
  /** The browser's admin token (secret DG_ADMIN_TOKEN): `Authorization: Bearer`, or signed in once to a cookie. null: none. */
  token: string | null;
}

export function parseAdminConfig(env: Record<string, unknown>): AdminConfig {
  const raw = env[ADMIN_TOKEN_VARIABLE];
  if (raw === undefined || raw === null || raw === "") return { token: null };
  if (typeof raw !== "string") throw new ConfigError(ADMIN_TOKEN_VARIABLE, "must be a string.");
  const token = raw.trim();
  if (token.length < MIN_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token)) {
    // Never echo the value: it is a secret.
    throw new ConfigError(ADMIN_TOKEN_VARIABLE, `must be at least ${MIN_TOKEN_LENGTH} printable characters without spaces (e.g. openssl rand -hex 32).`);
  }
  return { token };
}
