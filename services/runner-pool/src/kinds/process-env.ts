// Which environment variables a client may set for a `process` agent (config.env). A variable
// reaches the agent only when the node's operator allows its name (PROCESS_ENV_ALLOW: names and
// `*` globs), and never when it is on the hard deny list below: names that change how a loader,
// an interpreter or a shell starts (NODE_OPTIONS=--import=data:… runs code before the agent),
// where programs are found, or where traffic goes. The same rule is published in the kind's
// config JSON Schema, so the gateway refuses a bad name with a 400 at submit, and it is checked
// again on the node before anything starts (docs/process-protocol.md).

/** Names no allow-list can let through (globs: `*` is any run of name characters). */
export const HARD_DENIED_ENV = [
  "NODE",
  "NODE_*", // NODE_OPTIONS, NODE_PATH, NODE_EXTRA_CA_CERTS, NODE_TLS_REJECT_UNAUTHORIZED, …
  "NPM_*",
  "UV_*",
  "LD_*", // LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT
  "DYLD_*",
  "GCONV_PATH",
  "GLIBC_TUNABLES",
  "MALLOC_*",
  "NLSPATH",
  "HOSTALIASES",
  "LOCALDOMAIN",
  "RES_OPTIONS",
  "PATH",
  "HOME",
  "TMPDIR",
  "SHELL",
  "ENV",
  "BASH_ENV",
  "BASH_FUNC_*",
  "BASHOPTS",
  "SHELLOPTS",
  "CDPATH",
  "GLOBIGNORE",
  "IFS",
  "PS4",
  "PROMPT_COMMAND",
  "PYTHON*",
  "PERL*",
  "RUBY*",
  "GEM_*",
  "JAVA_TOOL_OPTIONS",
  "JDK_JAVA_OPTIONS",
  "_JAVA_OPTIONS",
  "CLASSPATH",
  "GIT_*",
  "OPENSSL_*",
  "SSL_CERT_*",
  "SSLKEYLOGFILE",
  "*_PROXY", // HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY: where the agent's traffic goes
  "SY_*", // what the runner itself sets (SY_WORKSPACE, SY_TASK_ID)
] as const;

/** A name or a glob of one: upper-case letters, digits, `_`, and `*`. */
export const ENV_NAME_GLOB = /^[A-Z_*][A-Z0-9_*]*$/;

/** The regex source matching whole names against `*` globs (`*` is `[A-Z0-9_]*`: linear, no nesting). */
function globsSource(globs: readonly string[]): string {
  return globs.map((g) => g.split("*").join("[A-Z0-9_]*")).join("|");
}

export interface EnvPolicy {
  /** Why `name` may not be set, or null when it may. */
  refusal(name: string): string | null;
  /** One regex a name must match: the allow-list minus the deny list (published in the kind's JSON Schema). */
  namePattern: RegExp;
  /** The operator's allow-list, as given. */
  allowed: readonly string[];
}

/** Builds the policy from PROCESS_ENV_ALLOW's entries (already split and checked against ENV_NAME_GLOB). */
export function envPolicy(allow: readonly string[]): EnvPolicy {
  const deny = new RegExp(`^(?:${globsSource(HARD_DENIED_ENV)})$`);
  const allowRe = allow.length > 0 ? new RegExp(`^(?:${globsSource(allow)})$`) : null;
  // An empty allow-list matches no name: `(?!)` never matches.
  // One regex (JSON Schema's propertyNames keeps a single `pattern` through every validator):
  // starts like a variable name, is not denied, is allowed.
  const namePattern = new RegExp(`^(?=[A-Z_])(?!(?:${globsSource(HARD_DENIED_ENV)})$)(?:${allow.length > 0 ? globsSource(allow) : "(?!)"})$`);
  return {
    allowed: allow,
    namePattern,
    refusal(name) {
      if (deny.test(name)) return `environment variable '${name}' may never be set by a task (it changes how programs start or where they connect)`;
      if (!allowRe?.test(name))
        return `environment variable '${name}' is not allowed on this runner node (PROCESS_ENV_ALLOW: ${allow.length > 0 ? allow.join(",") : "empty"})`;
      return null;
    },
  };
}
