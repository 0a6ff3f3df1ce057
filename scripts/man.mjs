// Writes man/mta-upgrade.1 from the built CLI's own help (run after the build: node scripts/man.mjs).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { manPage } = await import(path.join(repo, 'dist/src/cli.js'));
fs.mkdirSync(path.join(repo, 'man'), { recursive: true });
fs.writeFileSync(path.join(repo, 'man/mta-upgrade.1'), await manPage());
