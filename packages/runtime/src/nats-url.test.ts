import { describe, expect, it } from "vitest";
import { redactUrlCredentials } from "./env.ts";
import { natsServers } from "./nats.ts";

describe("natsServers", () => {
  it("takes a user and password from the URL and strips them from every server", () => {
    expect(natsServers("nats://sy:p%40ss@h1:4222, nats://sy:p%40ss@h2:4222")).toEqual({
      servers: ["nats://h1:4222", "nats://h2:4222"],
      user: "sy",
      pass: "p@ss",
    });
  });

  it("takes a token from a URL with only a user part", () => {
    expect(natsServers("nats://s3cret@127.0.0.1:4222")).toEqual({ servers: ["nats://127.0.0.1:4222"], token: "s3cret" });
  });

  it("leaves URLs without credentials as they are", () => {
    expect(natsServers("nats://127.0.0.1:4222,127.0.0.1:4223")).toEqual({ servers: ["nats://127.0.0.1:4222", "127.0.0.1:4223"] });
  });
});

describe("redactUrlCredentials", () => {
  it("hides passwords and tokens, in text as well as in a lone URL", () => {
    expect(redactUrlCredentials("connect to nats://sy:pw@h:4222 failed")).toBe("connect to nats://sy:[redacted]@h:4222 failed");
    expect(redactUrlCredentials("nats://tok@h:4222")).toBe("nats://[redacted]@h:4222");
    expect(redactUrlCredentials("redis://:pw@h:6379/0")).toBe("redis://:[redacted]@h:6379/0");
    expect(redactUrlCredentials("http://h:8080/v1/tasks")).toBe("http://h:8080/v1/tasks");
  });
});
