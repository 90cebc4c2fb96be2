import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { BaseEnv, loadEnv, redactConfig } from "./env.ts";

describe("redactConfig", () => {
  it("hides values under secret-looking keys", () => {
    expect(
      redactConfig({
        CLIENT_SECRET: "s1",
        REDIS_PASSWORD: "p1",
        GITHUB_TOKEN: "t1",
        API_KEY: "k1",
        API_KEYS: "tok1:acme",
        apikey: "k2",
        AWS_CREDENTIALS: "c1",
        PORT: 8080,
        HOST: "0.0.0.0",
      }),
    ).toEqual({
      CLIENT_SECRET: "[redacted]",
      REDIS_PASSWORD: "[redacted]",
      GITHUB_TOKEN: "[redacted]",
      API_KEY: "[redacted]",
      API_KEYS: "[redacted]",
      apikey: "[redacted]",
      AWS_CREDENTIALS: "[redacted]",
      PORT: 8080,
      HOST: "0.0.0.0",
    });
  });

  it("shows that an unset or empty secret is unset", () => {
    expect(redactConfig({ API_KEYS: "", TOKEN: undefined })).toEqual({ API_KEYS: "", TOKEN: undefined });
  });

  it("hides non-string secrets too", () => {
    expect(redactConfig({ SECRET_NUMBER: 1234 })).toEqual({ SECRET_NUMBER: "[redacted]" });
  });

  it("hides passwords inside URLs and keeps the rest of the URL", () => {
    expect(redactConfig({ REDIS_URL: "redis://u:pw@h:6379/0" })).toEqual({ REDIS_URL: "redis://u:[redacted]@h:6379/0" });
    expect(redactConfig({ NATS_URL: "nats://a:x1@h1:4222,nats://b:x2@h2:4222" })).toEqual({
      NATS_URL: "nats://a:[redacted]@h1:4222,nats://b:[redacted]@h2:4222",
    });
  });

  it("leaves URLs without credentials, and non-string values, untouched", () => {
    const cfg = { NATS_URL: "nats://127.0.0.1:4222", REDIS_URL: "redis://h:6379", N: 3, FLAG: true, LIST: ["a"] };
    expect(redactConfig(cfg)).toEqual(cfg);
  });

  it("does not mutate its input", () => {
    const cfg = { TOKEN: "t", REDIS_URL: "redis://u:pw@h" };
    redactConfig(cfg);
    expect(cfg).toEqual({ TOKEN: "t", REDIS_URL: "redis://u:pw@h" });
  });

  // Known bug: the URL pattern needs a non-empty user name, so the usual Redis form with only a
  // password (`redis://:pw@host`) is logged in clear. Remove `.fails` once fixed.
  it("hides a password-only URL credential", () => {
    expect(redactConfig({ REDIS_URL: "redis://:hunter2@h:6379" }).REDIS_URL).not.toContain("hunter2");
  });
});

describe("loadEnv", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("applies defaults and coerces numbers", () => {
    expect(loadEnv("svc", BaseEnv, { EVENTS_MAX_MB: "64" })).toEqual({
      NATS_URL: "nats://127.0.0.1:4222",
      REDIS_URL: "redis://127.0.0.1:6379",
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
      EVENTS_MAX_AGE_HOURS: 168,
      EVENTS_MAX_MB: 64,
      CMD_DUPLICATE_WINDOW_S: 120,
      METRICS_PORT: 9464,
      SY_REPLICAS: 1,
    });
  });

  it("takes METRICS_PORT as a port, 0 or off, and SY_REPLICAS as 1 or 3 only", () => {
    expect(BaseEnv.parse({ METRICS_PORT: "off" }).METRICS_PORT).toBe("off");
    expect(BaseEnv.parse({ METRICS_PORT: "0" }).METRICS_PORT).toBe(0);
    expect(BaseEnv.parse({ SY_REPLICAS: "3" }).SY_REPLICAS).toBe(3);
    expect(BaseEnv.safeParse({ SY_REPLICAS: "2" }).success).toBe(false);
    expect(BaseEnv.safeParse({ METRICS_PORT: "on" }).success).toBe(false);
  });

  it("exits with status 2 and names each bad variable", () => {
    const exit = vi.spyOn(process, "exit").mockImplementation((code) => {
      throw new Error(`exit ${String(code)}`);
    });
    const written: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    expect(() => loadEnv("kernel", BaseEnv, { LOG_LEVEL: "loud", CMD_DUPLICATE_WINDOW_S: "-5" })).toThrow("exit 2");
    expect(exit).toHaveBeenCalledWith(2);
    const text = written.join("");
    expect(text.startsWith("kernel: invalid configuration\n")).toBe(true);
    expect(text).toMatch(/^ {2}LOG_LEVEL: /m);
    expect(text).toMatch(/^ {2}CMD_DUPLICATE_WINDOW_S: /m);
    expect(text).not.toMatch(/NATS_URL/);
  });

  it("labels a whole-env failure (env)", () => {
    vi.spyOn(process, "exit").mockImplementation(() => {
      throw new Error("exit");
    });
    const written: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const schema = z.object({}).refine(() => false, "nope");
    expect(() => loadEnv("svc", schema, {})).toThrow("exit");
    expect(written.join("")).toContain("  (env): nope");
  });
});
