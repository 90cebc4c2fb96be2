// Spawner configuration.
import { z } from "zod";

export const SpawnerEnv = z.object({
  // Folder of agent definitions (*.md with YAML front matter) loaded into the catalog at start.
  // Empty: load nothing. Files overwrite catalog entries of the same name.
  AGENTS_DIR: z.string().default(""),
  // Agents one tenant may hold (PUT of a new name beyond it: 429). Default 1000.
  MAX_AGENTS_PER_TENANT: z.coerce.number().int().min(1).default(1000),
});
