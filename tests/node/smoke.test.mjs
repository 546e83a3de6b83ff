// Smoke test of orgiam with the official `openai` npm package (pinned in package.json).
//
// It starts nothing: tests/python/test_npm_sdk.py starts the server on each backend and
// runs `node --test` here with
//   ORGIAM_BASE_URL   the server's root, e.g. http://127.0.0.1:8080 (the SDK gets `/v1` added)
//   ORGIAM_ADMIN_KEY  an owner's admin API key (sk-admin-…)
// Every call goes through `client.admin.organization…` except creating users, which the SDK
// has no method for (orgiam's `POST /v1/organization/users`, done with fetch).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';

import OpenAI from 'openai';

const BASE_URL = (process.env.ORGIAM_BASE_URL ?? '').replace(/\/+$/, '');
const ADMIN_KEY = process.env.ORGIAM_ADMIN_KEY ?? '';
if (!BASE_URL || !ADMIN_KEY) {
  throw new Error('set ORGIAM_BASE_URL (e.g. http://127.0.0.1:8080) and ORGIAM_ADMIN_KEY (sk-admin-…)');
}

// Only the admin key: admin calls authenticate with it; no retries, so a failure shows at once.
const client = new OpenAI({ adminAPIKey: ADMIN_KEY, baseURL: `${BASE_URL}/v1`, maxRetries: 0 });
const org = client.admin.organization;

const uid = () => randomUUID().slice(0, 12);

async function createUser(role = 'member') {
  const email = `npm-${uid()}@example.com`;
  const res = await fetch(`${BASE_URL}/v1/organization/users`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, name: `npm ${email}`, role }),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `POST /v1/organization/users -> ${res.status}: ${text}`);
  const user = JSON.parse(text);
  assert.equal(user.email, email);
  return user;
}

async function all(pagePromise) {
  const items = [];
  for await (const item of pagePromise) items.push(item);
  return items;
}

test('roles, a custom role assigned and removed, and users paged, through the npm SDK', async (t) => {
  let role;
  let user;

  await t.test('the predefined roles are listed', async () => {
    const roles = await all(org.roles.list());
    const predefined = new Map(roles.filter((r) => r.predefined_role).map((r) => [r.name, r]));
    for (const name of ['owner', 'admin', 'member', 'reader']) {
      assert.ok(predefined.has(name), `predefined role ${name} in ${[...predefined.keys()]}`);
      assert.equal(predefined.get(name).object, 'role');
      assert.equal(predefined.get(name).resource_type, 'api.organization');
    }
    assert.ok(predefined.get('owner').permissions.includes('api.roles.write'));
    // one role per page still reaches every role (NextCursorPage follows `next`)
    const paged = await all(org.roles.list({ limit: 1 }));
    assert.deepEqual(
      paged.map((r) => r.id),
      roles.map((r) => r.id),
    );
  });

  await t.test('a custom role is created', async () => {
    const name = `npm-billing-${uid()}`;
    role = await org.roles.create({
      role_name: name,
      permissions: ['api.users.read'],
      description: 'made by the npm smoke test',
    });
    assert.equal(role.object, 'role');
    assert.match(role.id, /^role_/);
    assert.equal(role.name, name);
    assert.deepEqual(role.permissions, ['api.users.read']);
    assert.equal(role.predefined_role, false);
    assert.equal((await org.roles.retrieve(role.id)).name, name);
  });

  await t.test('it is assigned to a user, whose roles list shows it', async () => {
    user = await createUser('member');
    const assigned = await org.users.roles.create(user.id, { role_id: role.id });
    assert.equal(assigned.object, 'user.role');
    assert.equal(assigned.role.id, role.id);
    assert.equal(assigned.user.id, user.id);

    const roles = await all(org.users.roles.list(user.id));
    const byId = new Map(roles.map((r) => [r.id, r]));
    assert.ok(byId.has(role.id), `custom role in ${[...byId.keys()]}`);
    assert.deepEqual(
      byId.get(role.id).assignment_sources.map((s) => [s.principal_type, s.principal_id]),
      [['user', user.id]],
    );
    assert.deepEqual(roles.map((r) => r.name).sort(), ['member', role.name].sort());
    const one = await org.users.roles.retrieve(role.id, { user_id: user.id });
    assert.equal(one.name, role.name);
  });

  await t.test('the role is deleted, and the assignment with it', async () => {
    const deleted = await org.roles.delete(role.id);
    assert.deepEqual(deleted, { object: 'role.deleted', id: role.id, deleted: true });
    await assert.rejects(org.roles.retrieve(role.id), OpenAI.NotFoundError);
    const roles = await all(org.users.roles.list(user.id));
    assert.deepEqual(
      roles.map((r) => r.name),
      ['member'],
    );
    // a predefined role cannot be deleted
    const owner = (await all(org.roles.list())).find((r) => r.predefined_role && r.name === 'owner');
    await assert.rejects(org.roles.delete(owner.id), (e) => e instanceof OpenAI.APIError && e.status >= 400 && e.status < 500);
  });

  await t.test('users are listed page by page', async () => {
    const made = [];
    for (let i = 0; i < 5; i += 1) made.push((await createUser('reader')).id);
    const everyone = await all(org.users.list({ limit: 100 }));
    const ids = everyone.map((u) => u.id);
    for (const id of [...made, user.id]) assert.ok(ids.includes(id), `${id} listed`);
    assert.equal(everyone[0].object, 'organization.user');

    // pages of two, by hand (ConversationCursorPage follows `last_id`) …
    let page = await org.users.list({ limit: 2 });
    const byHand = [...page.data];
    let pages = 1;
    assert.equal(page.data.length, 2);
    assert.equal(page.has_more, true);
    while (page.hasNextPage()) {
      page = await page.getNextPage();
      assert.ok(page.data.length <= 2);
      byHand.push(...page.data);
      pages += 1;
    }
    assert.equal(pages, Math.ceil(ids.length / 2));
    assert.deepEqual(
      byHand.map((u) => u.id),
      ids,
    );
    // … and by the async iterator
    assert.deepEqual(
      (await all(org.users.list({ limit: 2 }))).map((u) => u.id),
      ids,
    );
    // the `emails` filter
    const filtered = await all(org.users.list({ emails: [user.email] }));
    assert.deepEqual(
      filtered.map((u) => u.id),
      [user.id],
    );
  });
});
