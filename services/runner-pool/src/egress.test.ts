import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EgressDenied, egressFetch, egressPolicy, remoteExcerpt } from "./egress.ts";

describe("egressPolicy", () => {
  const pub = egressPolicy(["public"]);

  it("allows global unicast and refuses every special-purpose address by default", () => {
    for (const ip of ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"]) expect(pub.allows("x.example", ip), ip).toBe(true);
    for (const ip of [
      "127.0.0.1",
      "127.9.9.9",
      "::1",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "100.64.0.1", // CGNAT
      "169.254.169.254", // cloud metadata
      "fd00:ec2::254", // AWS metadata over IPv6 (ULA)
      "fc00::1",
      "fe80::1",
      "0.0.0.0",
      "::",
      "224.0.0.1",
      "ff02::1",
      "255.255.255.255",
      "::ffff:127.0.0.1", // IPv4-mapped loopback
      "::ffff:169.254.169.254",
      "2002:7f00:1::", // 6to4 of 127.0.0.1
    ])
      expect(pub.allows("x.example", ip), ip).toBe(false);
  });

  it("allows what its entries list: IPs, CIDRs, host names and host globs", () => {
    const p = egressPolicy(["127.0.0.1", "10.0.0.0/8", "fd00::/8", "agent.internal", "*.corp.example"]);
    expect(p.allows("a", "127.0.0.1")).toBe(true);
    expect(p.allows("a", "127.0.0.2")).toBe(false);
    expect(p.allows("a", "10.200.0.1")).toBe(true);
    expect(p.allows("a", "fd12::1")).toBe(true);
    expect(p.allows("agent.internal", "192.168.0.5")).toBe(true);
    expect(p.allows("AGENT.internal.", "192.168.0.5")).toBe(true);
    expect(p.allows("other.internal", "192.168.0.5")).toBe(false);
    expect(p.allows("a.corp.example", "172.16.0.1")).toBe(true);
    expect(p.allows("x.y.corp.example", "172.16.0.1")).toBe(true);
    expect(p.allows("corp.example", "172.16.0.1")).toBe(false);
    expect(p.allows("evilcorp.example", "172.16.0.1")).toBe(false);
    expect(p.allows("a", "8.8.8.8"), "no 'public' entry: public addresses are not allowed either").toBe(false);
    expect(p.allows("a", "not an ip")).toBe(false);
  });

  it("refuses an entry it cannot read", () => {
    for (const bad of ["http://x", "10.0.0.0/99", "a b", "*", "foo.*"]) expect(() => egressPolicy([bad]), bad).toThrow(/EGRESS_ALLOW/);
  });
});

describe("egressFetch against a local server", () => {
  let server: http.Server;
  let port: number;
  const seen: string[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(req.url ?? "");
      if (req.url === "/to-other-loopback") res.writeHead(302, { location: `http://127.0.0.2:${port}/inside` }).end();
      else if (req.url === "/to-self") res.writeHead(307, { location: "/ok" }).end();
      else if (req.url === "/to-metadata") res.writeHead(301, { location: "http://169.254.169.254/latest/meta-data/" }).end();
      else res.end(`ok ${req.method} ${req.url}`);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  async function refused(policy: string[], url: string): Promise<EgressDenied> {
    const ef = egressFetch(egressPolicy(policy));
    const err = await ef.fetch(url).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err, `${url} must be refused`).not.toBeNull();
    const denial = ef.lastDenial();
    expect(denial).toBeInstanceOf(EgressDenied);
    return denial as EgressDenied;
  }

  it("refuses a loopback IP and a name that resolves to loopback before connecting", async () => {
    seen.length = 0;
    expect((await refused(["public"], `http://127.0.0.1:${port}/secret`)).message).toMatch(/egress to '127\.0\.0\.1' is not allowed/);
    expect((await refused(["public"], `http://localhost:${port}/secret`)).message).toMatch(/egress to 'localhost' \((127\.0\.0\.1|::1)\)/);
    expect((await refused(["public"], `http://[::1]:${port}/secret`)).host).toBe("::1");
    expect(seen, "the server saw no request").toEqual([]);
  });

  it("connects where an entry allows, and checks every redirect again", async () => {
    seen.length = 0;
    const ef = egressFetch(egressPolicy(["127.0.0.1"]));
    const ok = await ef.fetch(`http://127.0.0.1:${port}/to-self`, { method: "POST", body: "x" });
    expect(await ok.text()).toBe("ok POST /ok"); // 307 keeps the method
    expect(seen).toEqual(["/to-self", "/ok"]);

    seen.length = 0;
    expect((await refused(["127.0.0.1"], `http://127.0.0.1:${port}/to-other-loopback`)).host).toBe("127.0.0.2");
    expect((await refused(["127.0.0.1"], `http://127.0.0.1:${port}/to-metadata`)).host).toBe("169.254.169.254");
    expect(seen, "only the first hops reached the server").toEqual(["/to-other-loopback", "/to-metadata"]);
  });
});

describe("remoteExcerpt", () => {
  it("strips control characters and cuts to 200 characters", () => {
    expect(remoteExcerpt("line1\r\nline2\u0000\u001b[31mred")).toBe("line1 line2 [31mred");
    const long = remoteExcerpt("x".repeat(5000));
    expect(long).toHaveLength(201);
    expect(long.endsWith("…")).toBe(true);
  });
});
