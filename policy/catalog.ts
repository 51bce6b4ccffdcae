import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import { escapeName } from '../common/errors';
import { fillTemplate } from '../common/resource-template';
import type { ActionRequest, Resource } from '../common/inputs';
import { actionPatternToRegExp, foldAction, isGlob } from './glob';
import type { CatalogResource, PolicyFile } from './schema';

/**
 * The action catalog (DESIGN §3): per action, a JSON Schema for its payload and the resource derived
 * from it. This is the "second validation": a payload that fails its schema, or a resource the agent
 * asserts that disagrees with the one its payload names, never reaches policy, nor a reviewer.
 */
export interface CatalogEntryCompiled {
  key: string;
  pattern?: RegExp;
  validate?: ValidateFunction;
  resource?: CatalogResource;
  /** Display field name → template, in the catalog's order. */
  display?: [string, string][];
}

export interface CompiledCatalog {
  /** What an action no entry covers meets: true refused, 'review' the default review, false the rules. */
  required: boolean | 'review';
  exact: Map<string, CatalogEntryCompiled>;
  patterns: CatalogEntryCompiled[];
}

/** Compiles every schema once; a schema ajv refuses is a policy error at actions.<key>.payload. */
export function compileCatalog(config: PolicyFile, err: (path: (string | number)[], message: string) => void): CompiledCatalog {
  // strict: an unknown keyword or format (a typo) is an error, not a silently ignored constraint.
  const ajv = new Ajv2020({ strict: true, strictTypes: false, strictTuples: false, allErrors: false, logger: false });
  const catalog: CompiledCatalog = { required: config.catalog.required, exact: new Map(), patterns: [] };
  for (const [key, entry] of Object.entries(config.actions)) {
    let validate: ValidateFunction | undefined;
    if (entry.payload) {
      try {
        validate = ajv.compile(entry.payload);
      } catch (e) {
        err(['actions', key, 'payload'], `is not a valid JSON Schema (draft 2020-12): ${(e as Error).message.split('\n')[0]}`);
      }
    }
    if (entry.display) checkDisplay(entry.display, entry.payload, (field, message) => err(['actions', key, 'display', field], message));
    const compiled: CatalogEntryCompiled = { key, validate, resource: entry.resource, ...(entry.display ? { display: Object.entries(entry.display) } : {}) };
    if (isGlob(key)) catalog.patterns.push({ ...compiled, pattern: actionPatternToRegExp(key) });
    else if (catalog.exact.has(foldAction(key))) err(['actions', key], `names the same action as "${escapeName(catalog.exact.get(foldAction(key))!.key)}" (action names ignore case)`);
    else catalog.exact.set(foldAction(key), compiled);
  }
  return catalog;
}

/** The entries that cover an action: the exact one first, then every matching pattern in file order. */
export function catalogEntries(catalog: CompiledCatalog, action: string): CatalogEntryCompiled[] {
  const exact = catalog.exact.get(foldAction(action));
  return [...(exact ? [exact] : []), ...catalog.patterns.filter((e) => e.pattern!.test(action))];
}

export type CatalogCheck = { ok: true; entry?: string; resource?: Resource } | { ok: false; message: string };

/**
 * Every covering entry's schema must accept the payload; the resource is derived by the first entry
 * that maps one, and the request's resource must be exactly that one (`normalize` folds environments).
 */
export function checkCatalog(catalog: CompiledCatalog, request: ActionRequest, normalize: (environment: string) => string = (e) => e): CatalogCheck {
  const entries = catalogEntries(catalog, request.action);
  if (!entries.length) {
    return catalog.required === true ? { ok: false, message: `The action "${request.action}" is not in the policy's action catalog, and this policy accepts catalogued actions only.` } : { ok: true };
  }
  for (const entry of entries) {
    if (entry.validate && !entry.validate(request.payload)) return { ok: false, message: schemaMessage(entry.key, entry.validate.errors?.[0]) };
  }
  const mapping = entries.find((e) => e.resource)?.resource;
  if (!mapping) return { ok: true, entry: entries[0]!.key };
  const derived = deriveResource(mapping, request.payload);
  if ('missing' in derived) return { ok: false, message: `Field "payload.${escapeName(derived.missing)}" is required: the catalog derives the resource from it (${mapping.type}:${mapping.id}).` };
  const asserted = request.resource;
  const same =
    asserted.type === derived.type &&
    asserted.id === derived.id &&
    asserted.owner === derived.owner &&
    (asserted.environment === undefined ? derived.environment === undefined : derived.environment !== undefined && normalize(asserted.environment) === normalize(derived.environment));
  if (!same) {
    return {
      ok: false,
      message: `Field "resource" (${describe(asserted)}) disagrees with the resource the payload names (${describe(derived)}): send that one, the catalog derives it from the payload.`,
    };
  }
  return { ok: true, entry: entries[0]!.key, resource: derived };
}

/** The resource a mapping names for a payload, or the first field it lacks. */
export function deriveResource(mapping: CatalogResource, payload: Record<string, unknown>): Resource | { missing: string } {
  const field = (template: string) => fillTemplate(template, payload);
  const id = field(mapping.id);
  if (!id.text) return { missing: id.missing[0] ?? mapping.id };
  const resource: Resource = { type: mapping.type, id: id.text };
  for (const key of ['owner', 'environment'] as const) {
    const template = mapping[key];
    if (template === undefined) continue;
    const value = field(template);
    if (!value.text) return { missing: value.missing[0] ?? template };
    resource[key] = value.text;
  }
  return resource;
}

/** The longest a display value is shown, in characters. */
export const MAX_DISPLAY_VALUE = 200;
/** What a display placeholder shows when the payload has no scalar there. */
export const DISPLAY_MISSING = '—';

/**
 * A display field's placeholders may name only what the payload schema declares (when it declares
 * properties): at each dotted step, the schema of that level must list the name, unless it lists none.
 */
function checkDisplay(display: Record<string, string>, schema: Record<string, unknown> | undefined, err: (field: string, message: string) => void): void {
  for (const [field, template] of Object.entries(display)) {
    for (const [, path] of template.matchAll(/\{([^{}]+)\}/g)) {
      let level: unknown = schema;
      for (const [i, name] of path!.split('.').entries()) {
        const declared = level !== null && typeof level === 'object' ? (level as { properties?: unknown }).properties : undefined;
        if (declared === null || typeof declared !== 'object') break;
        if (!Object.hasOwn(declared, name)) {
          const at = path!.split('.').slice(0, i + 1).join('.');
          err(field, `names the payload field "${escapeName(at)}", which the payload schema does not declare: display field "${escapeName(field)}" could never show it`);
          break;
        }
        level = (declared as Record<string, unknown>)[name];
      }
    }
  }
}

/** The display templates of an action's first covering entry that declares some, or none. */
export function displayTemplates(catalog: CompiledCatalog, action: string): [string, string][] | undefined {
  return catalogEntries(catalog, action).find((e) => e.display)?.display;
}

/**
 * The display fields for a payload, in the catalog's order: every value a string, control and
 * bidirectional-override characters removed, clipped to MAX_DISPLAY_VALUE; a placeholder whose value
 * is missing or not a scalar shows as DISPLAY_MISSING. Pure: the same payload always shows the same.
 */
export function renderDisplay(templates: readonly (readonly [string, string])[], payload: Record<string, unknown>): { name: string; value: string }[] {
  return templates.map(([name, template]) => {
    const filled = template.replace(/\{([^{}]+)\}/g, (_, path: string) => {
      // fillTemplate reads the one placeholder exactly as resource mappings do; only a scalar is shown.
      const value = path.split('.').reduce<unknown>((v, key) => (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined), payload);
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return DISPLAY_MISSING;
      return fillTemplate(`{${path}}`, payload).text ?? DISPLAY_MISSING;
    });
    // eslint-disable-next-line no-control-regex
    return { name, value: clipDisplay(filled.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '')) };
  });
}

/** Clipped by code points (never half a surrogate pair), with an ellipsis when cut. */
function clipDisplay(text: string): string {
  const chars = Array.from(text);
  return chars.length > MAX_DISPLAY_VALUE ? `${chars.slice(0, MAX_DISPLAY_VALUE - 1).join('')}…` : text;
}

function describe(r: Resource): string {
  return [`${r.type}:${r.id}`, r.owner !== undefined ? `owner ${r.owner}` : '', r.environment !== undefined ? `environment ${r.environment}` : ''].filter(Boolean).join(', ');
}

/** One ajv error as one sentence naming the payload path and the rule broken. */
function schemaMessage(key: string, error: ErrorObject | undefined): string {
  if (!error) return `The payload does not match the ${key} catalog schema.`;
  const segments = error.instancePath.split('/').slice(1).map((s) => escapeName(s.replace(/~1/g, '/').replace(/~0/g, '~')));
  const params = error.params as { missingProperty?: string; additionalProperty?: string; allowedValues?: unknown[] };
  const at = (extra?: string) => `"${['payload', ...segments, ...(extra !== undefined ? [escapeName(extra)] : [])].join('.')}"`;
  switch (error.keyword) {
    case 'required':
      return `Field ${at(params.missingProperty)} is required (${key} catalog schema).`;
    case 'additionalProperties':
    case 'unevaluatedProperties':
      return `Field ${at(params.additionalProperty)} is not allowed (${key} catalog schema).`;
    case 'enum':
      return `Field ${at()} must be one of ${(params.allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')} (${key} catalog schema).`;
    default:
      return `Field ${at()} ${error.message ?? 'is invalid'} (${error.keyword}, ${key} catalog schema).`;
  }
}
