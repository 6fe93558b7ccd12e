/** The API tokens tab's model: a token's state, and the create form's messages. */
import { describe, expect, it } from 'vitest';
import { emptyTokenForm, exampleCommand, tokenFromForm, tokenState } from './api-tokens-form';

const NOW = new Date('2026-12-01T12:00:00Z');
const DAY = 86_400_000;

describe('token state', () => {
  it('is active until it expires, then expired; revoked wins over both', () => {
    expect(tokenState({ revokedAt: null, expiresAt: new Date(NOW.getTime() + DAY) }, NOW)).toBe('active');
    expect(tokenState({ revokedAt: null, expiresAt: NOW }, NOW)).toBe('expired');
    expect(tokenState({ revokedAt: new Date(NOW.getTime() - DAY), expiresAt: new Date(NOW.getTime() + DAY) }, NOW)).toBe('revoked');
    expect(tokenState({ revokedAt: new Date(NOW.getTime() - DAY), expiresAt: new Date(NOW.getTime() - 2 * DAY) }, NOW)).toBe('revoked');
  });
});

describe('create token form', () => {
  it('starts at 90 days as a viewer and sends numbers, the name trimmed', () => {
    expect(emptyTokenForm()).toEqual({ name: '', role: 'viewer', ttlDays: '90' });
    expect(tokenFromForm({ name: '  nightly-report ', role: 'operator', ttlDays: '30' })).toEqual({ ok: true, input: { name: 'nightly-report', role: 'operator', ttlDays: 30 } });
  });

  it("names each wrong field with the server's rule", () => {
    expect(tokenFromForm({ name: ' ', role: 'viewer', ttlDays: '' })).toEqual({
      ok: false,
      errors: { name: 'Name the token after what will use it.', ttlDays: 'Enter a whole number of days, 1 to 366.' },
    });
    expect(tokenFromForm({ name: '-bad/name', role: 'viewer', ttlDays: '0' })).toEqual({
      ok: false,
      errors: { name: 'Use letters, digits, space, dot, dash and underscore.', ttlDays: 'A token lives at least a day.' },
    });
    expect(tokenFromForm({ name: 'ok', role: 'viewer', ttlDays: '400' })).toMatchObject({ errors: { ttlDays: 'A token lives at most 366 days.' } });
    expect(tokenFromForm({ name: 'ok', role: 'viewer', ttlDays: '1.5' })).toMatchObject({ errors: { ttlDays: 'A lifetime is a whole number of days.' } });
    expect(tokenFromForm({ name: 'x'.repeat(65), role: 'viewer', ttlDays: '1' })).toMatchObject({ errors: { name: 'A name has at most 64 characters.' } });
  });

  it('shows the token in a tern command line against this console', () => {
    expect(exampleCommand('tern_abc', 'https://tern.example')).toBe('TERN_URL=https://tern.example TERN_TOKEN=tern_abc npm run tern -- migrations');
  });
});
