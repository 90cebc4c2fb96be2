// BullMQ connection options from a redis:// URL (BullMQ wants maxRetriesPerRequest: null on workers).
export function bullConnection(url: string): { host: string; port: number; maxRetriesPerRequest: null } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };
}
