// Tool-name globs of approval policies, matched in time linear in the name: a glob is turned
// into an RE2 expression (re2js: no backtracking), so `*a*a*a*a*a*a*a*b` against a long name
// costs what a short glob costs. Only the syntax agents may PUT is accepted (TOOL_GLOB:
// tool-name characters, `*`, `?`); compiled globs live in a bounded LRU cache.
import { TOOL_GLOB } from "@switchyard/contracts";
import { LRUCache } from "lru-cache";
import { RE2JS } from "re2js";

export type ToolGlobMatcher = (name: string) => boolean;

/** Compiled globs kept at most (an agent has up to 100 per policy; a fleet has a few thousand). */
export const GLOB_CACHE_MAX = 1024;

/** Compiles one glob; throws on a glob outside TOOL_GLOB (an older record, a bad write). */
export function compileToolGlob(glob: string): ToolGlobMatcher {
  if (!TOOL_GLOB.test(glob)) throw new Error(`'${glob.slice(0, 64)}' is not a tool glob (letters, digits, '_', '.', '-', '*', '?')`);
  // `*` and `?` never cross a '/', as picomatch's did; everything else is a literal.
  let source = "";
  for (const ch of glob) source += ch === "*" ? "[^/]*" : ch === "?" ? "[^/]" : ch === "." || ch === "-" ? `\\${ch}` : ch;
  const re = RE2JS.compile(`^${source}$`);
  return (name) => re.test(name);
}

const cache = new LRUCache<string, ToolGlobMatcher | Error>({ max: GLOB_CACHE_MAX });

/** The matcher of a glob from the cache (a glob that does not compile is cached as its error). */
export function toolGlob(glob: string): ToolGlobMatcher | Error {
  let m = cache.get(glob);
  if (m === undefined) {
    try {
      m = compileToolGlob(glob);
    } catch (err) {
      m = err as Error;
    }
    cache.set(glob, m);
  }
  return m;
}

/** How many compiled globs are cached now (for tests: the cache is bounded). */
export const toolGlobCacheSize = (): number => cache.size;
