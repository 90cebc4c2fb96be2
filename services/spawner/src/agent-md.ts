// Reads an agent definition written as Markdown: YAML front matter for the fields, the body
// for the instructions.
import { parse as parseYaml } from "yaml";

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/;

/** Returns the raw definition (not yet validated) or throws with the reason. */
export function parseAgentMarkdown(text: string, fallbackName: string): Record<string, unknown> {
  const m = FRONT_MATTER.exec(text);
  if (!m) throw new Error("missing YAML front matter (the file must start with a '---' line)");
  const fields: unknown = parseYaml(m[1] ?? "");
  if (fields === null || typeof fields !== "object" || Array.isArray(fields)) {
    throw new Error("front matter must be a YAML mapping");
  }
  const body = (m[2] ?? "").trim();
  return { name: fallbackName, ...(fields as Record<string, unknown>), ...(body ? { instructions: body } : {}) };
}
