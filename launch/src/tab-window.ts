/** The API a tabswarm tab puts on `window`, as code that drives tabs sees it. */
import type { TabswarmApi } from '@tabswarm/shared/protocol';

declare global {
  interface Window {
    tabswarm: TabswarmApi;
  }
}
export {};
