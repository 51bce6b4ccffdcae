/**
 * One sealer process of the file store's concurrency test (test/unit/file-store.test.ts): appends the
 * leaves given (hex) to the log under DIR, all at once, and prints the indexes it got as JSON.
 *   node --import tsx test/support/append-leaves.ts DIR HEX...
 */
import { fileStore } from '../../store/files';

async function main(): Promise<void> {
  const [dir, ...leaves] = process.argv.slice(2);
  const store = fileStore(dir!);
  const appended = await Promise.all(leaves.map((hex) => store.appendLeaf(new Uint8Array(Buffer.from(hex, 'hex')))));
  process.stdout.write(JSON.stringify(appended.map((a) => a.index)));
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
