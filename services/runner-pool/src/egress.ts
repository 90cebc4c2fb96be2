// Egress control for URLs a client gave (the `a2a` kind's remote agent, and any plugin that
// fetches on a task's behalf): a runner node connects only where its operator allows
// (EGRESS_ALLOW). By default that is the public internet: loopback, private (RFC 1918, CGNAT,
// ULA), link-local and cloud metadata (169.254.169.254, fd00:ec2::254), unspecified, multicast
// and other special-purpose addresses are refused unless an entry allows them. A name is checked
// on the addresses it resolves to, inside the connection's own DNS lookup, so the socket goes to
// the address that was checked (no DNS-rebinding gap); redirects are followed by hand and each
// hop is checked again. A refused destination fails before any connection with EgressDenied.
import dns from "node:dns";
import ipaddr from "ipaddr.js";
import type { Dispatcher } from "undici";

/** undici loads on a node's first guarded request, not at boot (it costs a runner's start ~0.1–0.6 s). */
let undici: Promise<typeof import("undici")> | undefined;
const loadUndici = () => {
  undici ??= import("undici");
  return undici;
};

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** A refused destination: `host` as the client wrote it, `address` when a name resolved to it. */
export class EgressDenied extends Error {
  override readonly name = "EgressDenied";
  readonly code = "egress_denied";
  readonly host: string;
  constructor(host: string, address?: string) {
    super(
      `egress to '${host}'${address && address !== host ? ` (${address})` : ""} is not allowed on this runner node (EGRESS_ALLOW allows public addresses and the hosts and ranges it lists)`,
    );
    this.host = host;
  }
}

export interface EgressPolicy {
  /** Whether a connection to `address`, reached by the name `host`, is allowed. */
  allows(host: string, address: string): boolean;
  /** The entries as configured (for logs). */
  entries: readonly string[];
}

/**
 * EGRESS_ALLOW's entries: `public`, an IP, a CIDR, a host name, or a host glob (`*.example.com`).
 * Throws on an entry that is none of these (checked at boot).
 */
export function egressPolicy(entries: readonly string[]): EgressPolicy {
  let allowPublic = false;
  const ranges: [Address, number][] = [];
  const hosts: RegExp[] = [];
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (entry === "public") allowPublic = true;
    else if (ipaddr.isValidCIDR(entry)) ranges.push(ipaddr.parseCIDR(entry));
    else if (ipaddr.isValid(entry)) {
      const a = ipaddr.parse(entry);
      ranges.push([a, a.kind() === "ipv4" ? 32 : 128]);
    } else if (/^(\*\.)?([a-z0-9]([a-z0-9-]{0,62})?\.)*[a-z0-9]([a-z0-9-]{0,62})?$/.test(entry)) {
      // `*.example.com` covers every name under example.com, not example.com itself.
      const literal = entry.replace(/^\*\./, "").replace(/\./g, "\\.");
      hosts.push(new RegExp(entry.startsWith("*.") ? `^(?:[a-z0-9-]+\\.)+${literal}$` : `^${literal}$`));
    } else throw new Error(`EGRESS_ALLOW: '${raw}' is not 'public', an IP, a CIDR, a host name or a host glob (*.example.com)`);
  }
  return {
    entries,
    allows(host, address) {
      let a: Address;
      try {
        a = ipaddr.process(address); // IPv4-mapped IPv6 is judged as the IPv4 address
      } catch {
        return false;
      }
      if (ranges.some(([net, bits]) => net.kind() === a.kind() && a.match(net, bits))) return true;
      const name = host.toLowerCase().replace(/\.$/, "");
      if (!ipaddr.isValid(name) && hosts.some((re) => re.test(name))) return true;
      // Only global unicast is "public": every special-purpose range (loopback, private, CGNAT,
      // link-local and metadata, ULA, multicast, unspecified, 6to4/Teredo tunnels, …) is not.
      return allowPublic && a.range() === "unicast";
    },
  };
}

/** The host of a URL without IPv6 brackets. */
const hostOf = (url: URL): string => url.hostname.replace(/^\[|\]$/g, "");

export interface EgressFetch {
  /** A fetch that connects only where the policy allows, following at most `maxRedirects` redirects. */
  fetch: typeof fetch;
  /** The last destination this fetch refused, if any (errors from a library may hide the cause). */
  lastDenial(): EgressDenied | null;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A guarded fetch for one run (or one client). */
export function egressFetch(policy: EgressPolicy, opts: { maxRedirects?: number } = {}): EgressFetch {
  const maxRedirects = opts.maxRedirects ?? 5;
  let denial: EgressDenied | null = null;
  const deny = (host: string, address?: string): EgressDenied => {
    denial = new EgressDenied(host, address);
    return denial;
  };
  // The connection's own lookup: resolve, refuse unless every address is allowed, hand the checked addresses to the socket.
  const lookup = (hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void): void => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err);
      const refused = addresses.find((a) => !policy.allows(hostname, a.address));
      if (refused || addresses.length === 0) return callback(deny(hostname, refused?.address));
      if (options.all) return callback(null, addresses);
      const first = addresses[0] as dns.LookupAddress;
      callback(null, first.address, first.family);
    });
  };
  let dispatcher: Dispatcher | undefined;

  const guarded = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    let url = new URL(input instanceof Request ? input.url : String(input));
    let method = (init.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
    let body = init.body;
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    for (let hop = 0; ; hop++) {
      if (url.protocol !== "http:" && url.protocol !== "https:") throw deny(url.href.slice(0, 200));
      const host = hostOf(url);
      // An IP literal never goes through a DNS lookup: check it here, before connecting.
      if (ipaddr.isValid(host) && !policy.allows(host, host)) throw deny(host);
      const { Agent, fetch: undiciFetch } = await loadUndici();
      dispatcher ??= new Agent({ connect: { lookup: lookup as never } });
      const res = (await undiciFetch(url, {
        ...(init as object),
        method,
        headers: headers as never, // the global Headers; undici's own types name a twin
        body: body as never,
        redirect: "manual",
        dispatcher,
      })) as unknown as Response;
      const location = res.headers.get("location");
      if (!REDIRECTS.has(res.status) || !location) return res;
      if (hop >= maxRedirects) throw new Error(`too many redirects (more than ${maxRedirects})`);
      await res.body?.cancel().catch(() => undefined);
      const next = new URL(location, url);
      // As browsers do: 303 (and 301/302 after a POST) become a GET without a body; credentials stay on their origin.
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === "POST")) {
        method = "GET";
        body = null;
        headers.delete("content-type");
      }
      if (next.origin !== url.origin) headers.delete("authorization");
      url = next;
    }
  };
  return { fetch: guarded as typeof fetch, lastDenial: () => denial };
}

/** A short, printable excerpt of text from a remote party (an error body, a remote message). */
export function remoteExcerpt(text: string, max = 200): string {
  const clean = text
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
