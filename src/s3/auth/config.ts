// Credentials and access configuration: the `auth` section of the one Config (called from src/config.ts). A
// mistake is a ConfigError naming the variable and the entry at fault, never a secret value.
import { ConfigError } from "../../errors";
import type { Access, AccessKey, AuthConfig, Principal } from "./index";

/** The local development key: enabled only by DG_DEV_CREDENTIALS=true, which `npm start` passes with --var. */
export const DEV_KEY: AccessKey = {
  accessKeyId: "deltaglider",
  secretAccessKey: "deltaglider-secret",
  access: "read-write",
  buckets: ["*"],
  admin: true,
};

export const NO_CREDENTIALS_MESSAGE =
  "No credentials are configured on this Worker, so every request is refused. Set DG_CREDENTIALS with " +
  "`wrangler secret put DG_CREDENTIALS` (see docs/CONFIGURATION.md).";

const ACCESS_VALUES: readonly Access[] = ["read-write", "read-only"];

/** `region`: the proxy's region (DG_REGION, parsed by src/config.ts), expected in signatures. */
export function parseAuthConfig(env: Record<string, unknown>, region = "us-east-1"): AuthConfig {
  const keys = parseCredentials(env.DG_CREDENTIALS);
  if (isTrue(env.DG_DEV_CREDENTIALS, "DG_DEV_CREDENTIALS") && !keys.some((k) => k.accessKeyId === DEV_KEY.accessKeyId)) {
    keys.push(DEV_KEY);
  }
  return {
    keys,
    anonymousReadBuckets: list(env.DG_ANONYMOUS_READ_BUCKETS, "DG_ANONYMOUS_READ_BUCKETS"),
    // "auto" is what R2-style clients send; the signature still binds the request to whichever region it names.
    regions: region === "auto" ? ["auto"] : [region, "auto"],
    cors: {
      origins: list(env.DG_CORS_ORIGINS, "DG_CORS_ORIGINS"),
      maxAgeSeconds: integer(env.DG_CORS_MAX_AGE, "DG_CORS_MAX_AGE") ?? 3600,
    },
    failClosed: keys.length === 0,
  };
}

/** May this principal use this bucket this way? */
export function mayAccess(config: AuthConfig, principal: Principal, bucket: string, write: boolean): boolean {
  if ("anonymous" in principal) return !write && config.anonymousReadBuckets.includes(bucket);
  const key = config.keys.find((k) => k.accessKeyId === principal.accessKeyId);
  if (!key) return false;
  if (write && key.access !== "read-write") return false;
  return key.buckets.includes("*") || key.buckets.includes(bucket);
}

function parseCredentials(value: unknown): AccessKey[] {
  if (value === undefined || value === null || value === "") return [];
  let parsed: unknown = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      // JSON.parse's own message quotes the input, which holds secrets: say only what is wrong.
      throw new ConfigError("DG_CREDENTIALS", "is not valid JSON: expected an array of {accessKeyId, secretAccessKey, access, buckets}.");
    }
  }
  const entries = Array.isArray(parsed) ? parsed : [parsed];
  const keys = entries.map((entry, index) => parseKey(entry, index));
  const ids = new Set<string>();
  for (const key of keys) {
    if (ids.has(key.accessKeyId)) throw new ConfigError("DG_CREDENTIALS", `lists access key ${key.accessKeyId} twice.`);
    ids.add(key.accessKeyId);
  }
  return keys;
}

function parseKey(entry: unknown, index: number): AccessKey {
  const where = `DG_CREDENTIALS[${index}]`;
  if (typeof entry !== "object" || entry === null) throw new ConfigError(where, "must be an object.");
  const e = entry as Record<string, unknown>;
  if (typeof e.accessKeyId !== "string" || !/^[A-Za-z0-9._-]{1,128}$/.test(e.accessKeyId)) {
    throw new ConfigError(`${where}.accessKeyId`, `must be 1-128 characters of letters, digits, ".", "_" or "-".`);
  }
  if (typeof e.secretAccessKey !== "string" || e.secretAccessKey.length < 8) {
    throw new ConfigError(`${where}.secretAccessKey`, `(for ${e.accessKeyId}) must be a string of at least 8 characters.`);
  }
  const access = e.access ?? "read-write";
  if (!ACCESS_VALUES.includes(access as Access)) throw new ConfigError(`${where}.access`, 'must be "read-write" or "read-only".');
  const buckets = e.buckets ?? ["*"];
  if (!Array.isArray(buckets) || buckets.length === 0 || !buckets.every((b) => typeof b === "string" && b !== "")) {
    throw new ConfigError(`${where}.buckets`, `must be a non-empty array of bucket names, or ["*"] for all buckets.`);
  }
  const admin = e.admin ?? false;
  if (typeof admin !== "boolean") throw new ConfigError(`${where}.admin`, "must be true or false.");
  return { accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey, access: access as Access, buckets: buckets as string[], admin };
}

function isTrue(value: unknown, name: string): boolean {
  if (value === undefined || value === "" || value === false || value === "false" || value === "0") return false;
  if (value === true || value === "true" || value === "1") return true;
  throw new ConfigError(name, 'must be "true" or "false".');
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (typeof value !== "string") throw new ConfigError(name, "must be a string.");
  return value.trim();
}

function list(value: unknown, name: string): string[] {
  const text = optionalString(value, name);
  return text ? text.split(",").map((s) => s.trim()).filter(Boolean) : [];
}

function integer(value: unknown, name: string): number | undefined {
  const text = optionalString(typeof value === "number" ? String(value) : value, name);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new ConfigError(name, "must be a whole number of seconds.");
  return Number(text);
}
