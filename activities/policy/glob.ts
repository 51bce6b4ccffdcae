/** Compiles a glob with `*` (any run of characters) into an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`);
}

export function isGlob(pattern: string): boolean {
  return pattern.includes('*');
}
