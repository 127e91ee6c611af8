/**
 * Which gateway rule refused a statement, read from the ErrorResponse the gateway sends in the
 * statement's place (gateway/proxy/postgres/protocolTracker.ts `block` / `refuseMasked`). Those
 * messages are the gateway's own fixed sentences — the same a psql user reads — so the console
 * needs no extra protocol to name the rule. Only SQLSTATE 42501 answers are considered: the
 * gateway answers every refusal with it, and a database error with another code can quote
 * these words without being one.
 */
export interface BlockedBy {
  rule: string;
  reason: string;
}

const GUARDRAIL = /^blocked by (?:guardrail|gateway rule) "([^"]+)": ([\s\S]*)$/;
const STRICT = /^blocked by strict masking: ([\s\S]*)$/;
const REFUSED = /^refused by the gateway: ([\s\S]*)$/;

export function blockedBy(code: string | null, message: string): BlockedBy | null {
  if (code !== '42501') return null;
  const guardrail = GUARDRAIL.exec(message);
  if (guardrail) return { rule: guardrail[1]!, reason: guardrail[2]! };
  const strict = STRICT.exec(message);
  if (strict) return { rule: 'strict masking', reason: strict[1]! };
  const refused = REFUSED.exec(message);
  if (refused) return { rule: 'masking', reason: refused[1]! };
  return null;
}
