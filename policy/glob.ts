/**
 * Compiles an action pattern into an anchored, case-insensitive RegExp: `*` matches within one
 * dotted segment (so `crm.get*` never reaches `crm.get.customers.delete`), `**` across segments
 * (`db.drop**` covers `db.dropTable` and `db.drop.table.now`).
 */
export function actionPatternToRegExp(pattern: string): RegExp {
  const source = pattern
    .split('**')
    .map((part) => part.split('*').map(escape).join('[^.]*'))
    .join('.*');
  return new RegExp(`^${source}$`, 'i');
}

/** Compiles a "type:id" resource glob (`*` any run of characters) into an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map(escape).join('.*')}$`);
}

export function isGlob(pattern: string): boolean {
  return pattern.includes('*');
}

/** Action names are compared without regard to letter case. */
export const foldAction = (action: string) => action.toLowerCase();

function escape(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
