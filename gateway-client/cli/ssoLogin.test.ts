import { describe, expect, it } from 'vitest';
import { chooseProvider, SsoChoiceError } from './ssoLogin.ts';

const okta = { name: 'okta', displayName: 'Okta' };
const google = { name: 'google', displayName: 'Google' };

describe('witness login --sso: which provider (issue #18)', () => {
  it('takes the one named, or the only one', () => {
    expect(chooseProvider('google', [okta, google])).toBe('google');
    expect(chooseProvider(undefined, [okta])).toBe('okta');
  });

  it('says which providers there are when the choice is not clear', () => {
    expect(() => chooseProvider(undefined, [okta, google])).toThrow(
      'several identity providers: okta (Okta), google (Google). Name one: --sso NAME.',
    );
    expect(() => chooseProvider('azure', [okta])).toThrow('no identity provider named azure');
    expect(() => chooseProvider(undefined, [])).toThrow(SsoChoiceError);
  });
});
