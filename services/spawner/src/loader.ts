// Loads agents/*.md into the catalog at start. A bad file is logged with its reason and
// skipped; it never stops the spawner.
import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Logger } from "@switchyard/runtime";
import { parseAgentMarkdown } from "./agent-md.ts";
import type { AgentCatalog } from "./catalog.ts";
import { isKnownAgentKind } from "./plan.ts";

export async function loadAgentFolder(dir: string, catalog: AgentCatalog, log: Logger): Promise<{ loaded: string[]; rejected: string[] }> {
  const loaded: string[] = [];
  const rejected: string[] = [];
  const files = (await readdir(dir)).filter((f) => f.endsWith(".md") && f.toLowerCase() !== "readme.md").sort();
  for (const file of files) {
    const name = basename(file, ".md");
    try {
      const raw = parseAgentMarkdown(await readFile(join(dir, file), "utf8"), name);
      // Runner nodes may start after the spawner: an agent whose provider or MCP server no node
      // offers yet is loaded anyway, with a warning; its tasks wait for such a node.
      const def = await catalog.put(String(raw.name), raw, undefined, { missingCapabilities: "warn" });
      if (!isKnownAgentKind(def.kind)) log.warn({ agent: def.name, kind: def.kind }, "agent kind has no factory yet");
      for (const w of def.warnings ?? []) log.warn({ agent: def.name, file, reason: w }, "agent loaded, but no runner node offers what it needs yet");
      loaded.push(def.name);
    } catch (err) {
      rejected.push(file);
      log.error({ file, reason: (err as Error).message }, "agent file rejected");
    }
  }
  return { loaded, rejected };
}
