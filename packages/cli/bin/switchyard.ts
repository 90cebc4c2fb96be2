#!/usr/bin/env node
// The `switchyard` command (npm bin of @switchyard/cli). Needs Node 22.18+ (runs TypeScript directly).
import { main } from "../src/main.ts";

process.exitCode = await main(process.argv.slice(2));
