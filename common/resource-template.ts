/**
 * "{field}" placeholders filled from a JSON object (a dotted path reaches into nested ones): how the
 * policy derives a resource from an action's payload (the action catalog) or from an MCP tool call's
 * arguments (the gateway). A placeholder whose value is missing or not a scalar (or a list of them)
 * leaves the whole template unfilled, and names what was missing.
 */
export function fillTemplate(template: string, values: Record<string, unknown>): { text?: string; missing: string[] } {
  const missing: string[] = [];
  const text = template.replace(/\{([^{}]+)\}/g, (_, path: string) => {
    const value = path.split('.').reduce<unknown>((v, key) => (v !== null && typeof v === 'object' && Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined), values);
    const scalar = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
    if (scalar(value)) return String(value);
    if (Array.isArray(value) && value.length && value.every(scalar)) return value.join(',');
    missing.push(path);
    return '';
  });
  return missing.length || !text ? { missing } : { text, missing };
}

/** A template is text with {field} placeholders only (no stray braces). */
export const TEMPLATE_PATTERN = /^([^{}]|\{[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\})*$/;
