import { z } from 'zod';
import { NAME_PATTERN, NAME_RULE } from '../config';
import { apiScopeProblem } from '../policy';

/** The body of POST /api/token (DESIGN §2). Unknown fields are rejected, not ignored. */
export const tokenRequestSchema = z.strictObject({
  // The configured names' syntax, checked here so no other name reaches the decision or the audit.
  workspace: z.string().regex(NAME_PATTERN, NAME_RULE),
  mode: z.enum(['aad', 'pat', 'oauth', 'user']).default('aad'),
  scopes: z
    .array(
      z.string().max(100).superRefine((s, ctx) => {
        const problem = apiScopeProblem(s);
        // Stryker disable next-line StringLiteral: the issue's code is never read (read-json-body reports its path and message)
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    )
    .min(1)
    .max(32)
    .optional(),
  lifetime_seconds: z.int().min(60).max(86_400 * 90).optional(),
  min_validity_seconds: z.int().min(0).max(3000).default(300),
  management_token: z.boolean().default(false),
  purpose: z
    .string()
    .max(200)
    // No control, format (bidi overrides), lone surrogate, private-use or unassigned code points.
    .regex(/^[^\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]*$/u, 'must be printable characters only')
    .optional(),
});

export type TokenRequest = z.infer<typeof tokenRequestSchema>;
