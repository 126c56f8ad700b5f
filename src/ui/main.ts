// The page entry: global styles, then App mounted on #app with Svelte 5's `mount`.
// Owns nothing else; state lives in the .svelte.ts classes App creates.
import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

export default mount(App, { target });

// Offline once loaded (the built site only: the dev server's modules change under it).
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  void navigator.serviceWorker.register('./sw.js').catch(() => {});
}
