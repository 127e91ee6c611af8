import type { Clock } from '../clock.ts';
import { GatewayError } from '../gatewayError.ts';
import { type AccessReviewStore, reviewAccess } from '../sessions/accessReview.ts';
import type { IdentityStore, UserRecord } from '../store/identityStore.ts';

export interface GroupView {
  name: string;
  members: UserRecord[];
}

/**
 * Groups as the gateway has them: names on users (`UserRecord.groups`), which grants and
 * approvers name. A group exists while it has members; this gives admins a view by group and
 * a way to add and remove members without editing users by hand (issue #14, minimal).
 * Removing a member takes access away, so it runs the one rule (sessions/accessReview.ts): the
 * live sessions the group's grants enabled end within a second.
 */
export class GroupDirectory {
  constructor(
    private readonly store: Pick<IdentityStore, 'listUsers' | 'getUserById' | 'updateUser'> &
      AccessReviewStore,
    private readonly clock: Clock,
  ) {}

  async list(): Promise<GroupView[]> {
    const byName = new Map<string, UserRecord[]>();
    for (const user of await this.store.listUsers()) {
      for (const group of user.groups) byName.set(group, [...(byName.get(group) ?? []), user]);
    }
    return [...byName.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, members]) => ({ name, members }));
  }

  async addMember(name: string, userId: string): Promise<GroupView> {
    const user = await this.user(userId);
    if (!user.groups.includes(name)) {
      await this.store.updateUser(user.id, { groups: [...user.groups, name] });
    }
    return this.group(name);
  }

  async removeMember(name: string, userId: string): Promise<void> {
    const user = await this.user(userId);
    if (!user.groups.includes(name)) {
      throw new GatewayError('not_found', `${user.username} is not in group ${name}.`);
    }
    await this.store.updateUser(user.id, { groups: user.groups.filter((g) => g !== name) });
    await reviewAccess(this.store, this.clock, { userId: user.id });
  }

  private async group(name: string): Promise<GroupView> {
    return (await this.list()).find((g) => g.name === name) ?? { name, members: [] };
  }

  private async user(id: string): Promise<UserRecord> {
    const user = await this.store.getUserById(id);
    if (!user) throw new GatewayError('not_found', `There is no user ${id}.`);
    return user;
  }
}
