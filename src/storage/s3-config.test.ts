// Remote S3 configuration: the one-line case, per-bucket entries with their own secrets, and clear errors
// that name the variable at fault.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors";
import { parseRemoteBackendConfig } from "./s3-config";

const secrets = { S3_ACCESS_KEY_ID: "AK", S3_SECRET_ACCESS_KEY: "SK" };

function errorOf(env: Record<string, unknown>): ConfigError {
  try {
    parseRemoteBackendConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a configuration error");
}

describe("remote S3 configuration", () => {
  it("with no S3 variables every bucket stays on R2", () => {
    expect(parseRemoteBackendConfig({ DG_BUCKETS: "default=BUCKET" })).toEqual({});
  });

  it("S3_ENDPOINT + S3_BUCKET + the two secrets serve bucket `default` from that remote bucket", () => {
    const config = parseRemoteBackendConfig({ S3_ENDPOINT: "http://127.0.0.1:8000", S3_BUCKET: "artifacts", ...secrets });
    expect(Object.keys(config)).toEqual(["default"]);
    expect(config.default).toMatchObject({
      endpoint: "http://127.0.0.1:8000", bucket: "artifacts", region: "us-east-1", pathStyle: true,
      accessKeyId: "AK", secretAccessKey: "SK", conditionalWrites: "native",
    });
  });

  it("S3_REGION, S3_PROXY_BUCKET, S3_FORCE_PATH_STYLE, S3_SESSION_TOKEN and tuning variables are honoured", () => {
    const config = parseRemoteBackendConfig({
      S3_ENDPOINT: "https://s3.eu-central-1.amazonaws.com", S3_BUCKET: "artifacts", S3_REGION: "eu-central-1",
      S3_PROXY_BUCKET: "releases", S3_FORCE_PATH_STYLE: "true", S3_SESSION_TOKEN: "TOKEN",
      S3_CONDITIONAL_WRITES: "emulated", S3_RETRY_ATTEMPTS: "6", S3_TIMEOUT_MS: "5000", ...secrets,
    });
    expect(config.releases).toMatchObject({
      region: "eu-central-1", pathStyle: true, sessionToken: "TOKEN", conditionalWrites: "emulated",
      retry: expect.objectContaining({ attempts: 6, stallTimeoutMs: 5000 }),
    });
  });

  it("AWS endpoints default to virtual-hosted style, other endpoints and dotted bucket names to path style", () => {
    const aws = parseRemoteBackendConfig({ S3_ENDPOINT: "https://s3.us-west-2.amazonaws.com", S3_BUCKET: "plain", ...secrets });
    expect(aws.default.pathStyle).toBe(false);
    const dotted = parseRemoteBackendConfig({ S3_ENDPOINT: "https://s3.us-west-2.amazonaws.com", S3_BUCKET: "my.dotted", ...secrets });
    expect(dotted.default.pathStyle).toBe(true);
    const minio = parseRemoteBackendConfig({ S3_ENDPOINT: "https://minio.internal:9000", S3_BUCKET: "plain", ...secrets });
    expect(minio.default.pathStyle).toBe(true);
  });

  it("S3_BACKENDS gives each bucket its own endpoint and secrets, as JSON text or a wrangler.toml table", () => {
    const env = {
      S3_BACKENDS: JSON.stringify({
        "bucket-b": { endpoint: "https://fsn1.your-objectstorage.com", bucket: "team-b", region: "fsn1", credentials: "S3_B" },
        "bucket-c": { endpoint: "http://127.0.0.1:9000", bucket: "team-c", pathStyle: false },
      }),
      S3_B_ACCESS_KEY_ID: "BK", S3_B_SECRET_ACCESS_KEY: "BS", ...secrets,
    };
    const config = parseRemoteBackendConfig(env);
    expect(config["bucket-b"]).toMatchObject({ bucket: "team-b", region: "fsn1", accessKeyId: "BK", secretAccessKey: "BS" });
    expect(config["bucket-c"]).toMatchObject({ bucket: "team-c", pathStyle: false, accessKeyId: "AK" });
    const asTable = parseRemoteBackendConfig({ ...env, S3_BACKENDS: JSON.parse(env.S3_BACKENDS) });
    expect(asTable).toEqual(config);
  });

  it("mistakes name the variable: missing bucket or secret, bad URL, unknown setting, bad values", () => {
    expect(errorOf({ S3_ENDPOINT: "http://127.0.0.1:8000", ...secrets }).variable).toBe("S3_BUCKET");
    expect(errorOf({ S3_ENDPOINT: "http://127.0.0.1:8000", S3_BUCKET: "a1", S3_ACCESS_KEY_ID: "AK" }).variable).toBe("S3_SECRET_ACCESS_KEY");
    expect(errorOf({ S3_BUCKET: "a1" }).variable).toBe("S3_BUCKET");
    expect(errorOf({ S3_ENDPOINT: "127.0.0.1:8000", S3_BUCKET: "a1", ...secrets }).variable).toBe("S3_*.endpoint");
    expect(errorOf({ S3_ENDPOINT: "ftp://h", S3_BUCKET: "a1", ...secrets }).message).toMatch(/http/);
    expect(errorOf({ S3_BACKENDS: "{not json" }).variable).toBe("S3_BACKENDS");
    expect(errorOf({ S3_BACKENDS: { "bucket-b": { endpoint: "http://h", bucket: "x1", pathstyle: true } } }).variable).toBe("S3_BACKENDS.bucket-b.pathstyle");
    expect(errorOf({ S3_BACKENDS: { Bad_Name: { endpoint: "http://h", bucket: "x1" } } }).variable).toBe("S3_BACKENDS");
    expect(errorOf({ S3_ENDPOINT: "http://h", S3_BUCKET: "a1", S3_CONDITIONAL_WRITES: "maybe", ...secrets }).variable).toBe("S3_*.conditionalWrites");
    expect(errorOf({ S3_ENDPOINT: "http://h", S3_BUCKET: "a1", S3_RETRY_ATTEMPTS: "0", ...secrets }).variable).toBe("S3_*.retryAttempts");
    expect(errorOf({
      S3_ENDPOINT: "http://h", S3_BUCKET: "a1", ...secrets, S3_BACKENDS: { default: { endpoint: "http://h", bucket: "x1" } },
    }).message).toMatch(/also configured/);
  });

  it("an error message never contains a secret's value", () => {
    const error = errorOf({ S3_ENDPOINT: "http://h", S3_BUCKET: "a1", S3_ACCESS_KEY_ID: "AKSECRETVALUE", S3_RETRY_ATTEMPTS: "x" });
    expect(error.message).not.toContain("AKSECRETVALUE");
  });
});
