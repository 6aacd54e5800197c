/* test_install.c - programs built against the installed copy (built by
 * tests/install/check.sh, found through $VIPL_INSTALL_BIN) run. */
#include <stdio.h>
#include <stdlib.h>

#include <criterion/criterion.h>

static void run(const char *name)
{
	const char *dir = getenv("VIPL_INSTALL_BIN");
	char cmd[1024];

	if (!dir)
		cr_skip_test("VIPL_INSTALL_BIN not set (scripts/test.sh sets it)");
	snprintf(cmd, sizeof(cmd), "%s/%s", dir, name);
	cr_assert_eq(system(cmd), 0, "%s failed", cmd);
}

TestSuite(install, .timeout = 60);

Test(install, cmake_package_shared_library)
{
	run("consumer_cmake");
}

Test(install, cmake_package_static_library)
{
	run("consumer_cmake_static");
}

Test(install, pkg_config_shared_library)
{
	run("consumer_pkgconfig");
}

Test(install, pkg_config_static_library)
{
	run("consumer_pkgconfig_static");
}
