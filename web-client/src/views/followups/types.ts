/** Follow-up and survey types from the API (schema.d.ts), shared by the views of this area. */
import type { Answer } from '../../api/api.ts';

export type Followup = NonNullable<Answer<'/api/followups', 'get'>['followups']>[number];
export type Rule = NonNullable<Answer<'/api/followups/rules', 'get'>['rules']>[number];
export type Coverage = Answer<'/api/followups/coverage', 'get'>;
export type BranchCoverage = NonNullable<Coverage['branches']>[number];
export type Survey = NonNullable<Answer<'/api/surveys/mine', 'get'>['surveys']>[number];

export const CHECKLIST_ITEMS = ['identityConfirmed', 'riskExplained', 'noReturnPromise', 'complaintChannelTold'] as const;
export type ChecklistItem = (typeof CHECKLIST_ITEMS)[number];
export const OUTCOMES = ['reached', 'unreachable', 'declined'] as const;
export type Outcome = (typeof OUTCOMES)[number];
export const TIERS = ['general', 'hnw', 'institutional'] as const;
