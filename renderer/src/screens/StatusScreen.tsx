/** Before AppState arrives: connecting to main, or why that failed. */
import { CardLayout, type ThemeProps } from './CardLayout.tsx';

export function StatusScreen({
  title,
  error,
  ...theme
}: ThemeProps & { title: string; error: string | null }) {
  return (
    <CardLayout title={title} {...theme}>
      {error === null ? (
        <p role="status" className="starting">
          <span className="spinner" aria-hidden="true" /> Connecting…
        </p>
      ) : (
        <div role="alert" className="alert alert-error">
          {error}
        </div>
      )}
    </CardLayout>
  );
}
