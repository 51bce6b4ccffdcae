import type { z } from 'zod';

/** True when a zod invalid_type issue is about a missing value. */
export function isMissing(issue: { code: string; message: string }): boolean {
  return issue.code === 'invalid_type' && /received undefined/.test(issue.message);
}

/** Turns zod issues into one clear sentence naming the field and what was expected. */
export function describeIssues(error: z.ZodError, subject = 'request'): string {
  const issue = error.issues[0];
  if (!issue) return `The ${subject} is invalid.`;
  const path = issue.path.map(String).join('.');
  const field = path ? `Field "${path}"` : `The ${subject}`;
  switch (issue.code) {
    case 'invalid_type': {
      // zod leaves the input out of issues; its message names what it received.
      const received = /received (\w+)/.exec(issue.message)?.[1];
      if (received === 'undefined') return `${field} is required.`;
      return `${field} must be ${article(issue.expected)}${received ? `, got ${received === 'null' ? 'null' : article(received)}` : ''}.`;
    }
    case 'unrecognized_keys':
      return `${path ? `Field "${path}" has` : `The ${subject} has`} unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}.`;
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
