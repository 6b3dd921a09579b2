/** Set by global-setup for the test files (Jest workers inherit the environment). */
export const ADMIN_URL_ENV = 'API_TEST_ADMIN_URL';
export const TEMPLATE_ENV = 'API_TEST_TEMPLATE_DB';
