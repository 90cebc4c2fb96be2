// Spawner configuration.
import { z } from "zod";

export const SpawnerEnv = z.object({
  // Folder of agent definitions (*.md with YAML front matter) loaded into the catalog at start.
  // Empty: load nothing. Files overwrite catalog entries of the same name.
  AGENTS_DIR: z.string().default(""),
});
