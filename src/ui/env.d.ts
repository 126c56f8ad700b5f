// Ambient types for the page: Svelte's runes and `*.svelte` modules, Vite's `?url` imports.
// Types only; nothing here runs.
/// <reference types="svelte" />
/// <reference types="vite/client" />
