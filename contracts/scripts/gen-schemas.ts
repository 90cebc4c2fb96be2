// Writes schemas/switchyard.schema.json: JSON Schemas of every payload, for consumers that
// do not speak TypeScript. `npm run gen:schemas`; a test fails when the file drifts.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildJsonSchemas } from "../src/json-schemas.ts";

const out = fileURLToPath(new URL("../schemas/switchyard.schema.json", import.meta.url));
writeFileSync(out, `${JSON.stringify(buildJsonSchemas(), null, 2)}\n`);
console.log(`wrote ${out}`);
