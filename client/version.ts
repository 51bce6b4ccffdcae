import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The package's root folder: the clone when run from source, node_modules/countersign when
 * installed (the compiled files sit one level deeper, under dist/). Found by walking up to the
 * package.json that names countersign.
 */
export function packageRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'countersign') return dir;
    if (dirname(dir) === dir) throw new Error(`countersign cannot find its own package.json above ${__dirname}.`);
  }
}

let cached: string | undefined;
/** The package's version, from its package.json. */
export function packageVersion(): string {
  cached ??= (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  return cached;
}
