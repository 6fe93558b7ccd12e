/** Remembers whether the user collapsed the sidebar (read by the layout, so it renders right). */
export const SIDEBAR_COOKIE = 'tern_sidebar';
