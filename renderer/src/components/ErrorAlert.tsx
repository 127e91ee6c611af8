/** A call's error, announced to screen readers (role alert) next to the form that made it. */
export function ErrorAlert({ message }: { message: string | null }) {
  if (message === null) return null;
  return (
    <div role="alert" className="alert alert-error">
      {message}
    </div>
  );
}
