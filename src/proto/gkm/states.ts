// Every state transition of the registration machines in one table each (after h11's _state.py):
// the GCKS's registration IKE SA and the member. Data only; never performs an exchange.
//
//   GCKS registration SA:  init-responded ─authenticated→ authenticated ─registered→ registered
//                          init-responded|authenticated|registered ─refused→ refused
//                          (GSA_AUTH or GSA_REGISTRATION may register again while the SA lingers)
//   member:  idle ─start→ init-sent ─init-answered→ auth-sent ─registered→ registered
//            init-sent ─init-retry (INVALID_KE_PAYLOAD)→ init-sent
//            init-sent|auth-sent ─timeout→ backoff ─start→ init-sent   (bounded attempts, then failed)
//            init-sent|auth-sent ─refused→ refused (an error Notify: AUTHENTICATION_FAILED, …)
//            registered ─start→ init-sent (re-registration: GSA expiring without a rekey, or excluded)
//            registered|refused|backoff|failed ─start-registration→ auth-sent (GSA_REGISTRATION on the
//            registration SA while it is still alive, RFC 9838 §2.3.2)
//            any ─give-up→ failed;  refused|failed ─start→ init-sent (a new `register` command)

export const GCKS_REGISTRATION_STATES = ['init-responded', 'authenticated', 'registered', 'refused'] as const;
export type GcksRegistrationState = (typeof GCKS_REGISTRATION_STATES)[number];
export type GcksRegistrationTransition = 'authenticated' | 'registered' | 'refused';

export const GCKS_REGISTRATION_TRANSITIONS: { readonly [S in GcksRegistrationState]: Readonly<Partial<Record<GcksRegistrationTransition, GcksRegistrationState>>> } = {
  'init-responded': { authenticated: 'authenticated', refused: 'refused' },
  authenticated: { registered: 'registered', refused: 'refused' },
  registered: { registered: 'registered', refused: 'refused' },
  refused: {},
};

export const MEMBER_STATES = ['idle', 'init-sent', 'auth-sent', 'registered', 'backoff', 'refused', 'failed'] as const;
export type MemberState = (typeof MEMBER_STATES)[number];
export type MemberTransition = 'start' | 'start-registration' | 'init-retry' | 'init-answered' | 'registered' | 'timeout' | 'refused' | 'give-up';

export const MEMBER_TRANSITIONS: { readonly [S in MemberState]: Readonly<Partial<Record<MemberTransition, MemberState>>> } = {
  idle: { start: 'init-sent' },
  'init-sent': { 'init-retry': 'init-sent', 'init-answered': 'auth-sent', timeout: 'backoff', refused: 'refused', 'give-up': 'failed' },
  'auth-sent': { registered: 'registered', timeout: 'backoff', refused: 'refused', 'give-up': 'failed' },
  registered: { start: 'init-sent', 'start-registration': 'auth-sent' },
  backoff: { start: 'init-sent', 'start-registration': 'auth-sent', 'give-up': 'failed' },
  refused: { start: 'init-sent', 'start-registration': 'auth-sent' },
  failed: { start: 'init-sent', 'start-registration': 'auth-sent' },
};
