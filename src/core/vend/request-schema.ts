import { z } from 'zod';

/** The body of POST /api/token (DESIGN §2). Unknown fields are rejected, not ignored. */
export const tokenRequestSchema = z.strictObject({
  workspace: z.string().min(1).max(64),
  mode: z.enum(['aad', 'pat']).default('aad'),
  lifetime_seconds: z.int().min(60).max(86_400 * 90).optional(),
  min_validity_seconds: z.int().min(0).max(3000).default(300),
  management_token: z.boolean().default(false),
  purpose: z
    .string()
    .max(200)
    .regex(/^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]*$/u, 'must be printable characters only')
    .optional(),
});

export type TokenRequest = z.infer<typeof tokenRequestSchema>;
