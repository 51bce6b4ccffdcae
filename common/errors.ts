import type { z } from 'zod';

/** True when a zod invalid_type issue is about a missing value. */
export function isMissing(issue: { code: string; message: string }): boolean {
  return issue.code === 'invalid_type' && /received undefined/.test(issue.message);
}

/**
 * A field name or key as shown between quotes: quotes, backslashes, control characters, line
 * breaks and lone surrogates escaped as JSON escapes them, so a key the caller chose can never
 * break the sentence — nor the refusal itself: it travels as a protobuf string, and a lone
 * surrogate there cannot be encoded (the worker shuts down over it).
 */
export function escapeName(name: string): string {
  return name.replace(
    // eslint-disable-next-line no-control-regex
    /["\\\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (c) => (c === '"' || c === '\\' ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
  );
}

/** Turns zod issues into one clear sentence naming the field and what was expected. */
export function describeIssues(error: z.ZodError, subject = 'request'): string {
  const issue = error.issues[0];
  if (!issue) return `The ${subject} is invalid.`;
  const path = issue.path.map((p) => escapeName(String(p))).join('.');
  const field = path ? `Field "${path}"` : `The ${subject}`;
  switch (issue.code) {
    case 'invalid_type': {
      // zod leaves the input out of issues; its message names what it received.
      const received = /received (\w+)/.exec(issue.message)?.[1];
      if (received === 'undefined') return `${field} is required.`;
      return `${field} must be ${article(issue.expected)}${received ? `, got ${received === 'null' ? 'null' : article(received)}` : ''}.`;
    }
    case 'unrecognized_keys':
      return `${path ? `Field "${path}" has` : `The ${subject} has`} unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${escapeName(k)}"`).join(', ')}.`;
    case 'invalid_key': {
      // The path ends with the offending key: name the record it sits in, and what a key must be.
      const record = issue.path.slice(0, -1).map((p) => escapeName(String(p))).join('.');
      const rule = describeIssues({ issues: issue.issues } as unknown as z.ZodError, 'key').replace(/^The key /, '').replace(/\.$/, '');
      return `${record ? `Field "${record}"` : `The ${subject}`} has a key that ${rule}.`;
    }
    case 'too_big':
      return `${field} must be at most ${issue.maximum}${unitOf(issue.origin)}.`;
    case 'too_small':
      if (issue.origin === 'string' && issue.minimum === 1) return `${field} must not be empty.`;
      return `${field} must be at least ${issue.minimum}${unitOf(issue.origin)}.`;
    case 'invalid_format':
      return `${field} must be ${issue.message && !issue.message.startsWith('Invalid') ? issue.message : `a valid ${issue.format}`}.`;
    case 'invalid_value':
      return `${field} must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}.`;
    case 'invalid_union':
      if ('discriminator' in issue && issue.discriminator) return `${field} has an unknown "${issue.discriminator}".`;
      return `${field} is not valid: ${issue.message}.`;
    default:
      return `${field} ${issue.message.replace(/\.$/, '')}.`;
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function unitOf(origin: string): string {
  if (origin === 'string') return ' characters';
  if (origin === 'array') return ' items';
  return '';
}
