/** An empty list that says what it would hold and what to do to fill it. */
import type { ReactNode } from 'react';

export function EmptyState({
  title,
  children,
  action,
}: {
  title: string;
  children: ReactNode;
  action?: ReactNode;
}) {
  return (
    <div className="empty-state" role="note" aria-label={title}>
      <strong>{title}</strong>
      <p className="muted">{children}</p>
      {action}
    </div>
  );
}
