/* test_install.c - programs built against the installed copy (built by
 * tests/install/check.sh, found through $VIPL_INSTALL_BIN) and against
 * the installed Debian packages (tests/packages/check.sh, $VIPL_DEB_BIN)
 * run on the device. */
#include <stdio.h>
#include <stdlib.h>

#include <criterion/criterion.h>

static void run_in(const char *var, const char *name)
{
	const char *dir = getenv(var);
	char cmd[1024];

	if (!dir)
		cr_skip_test("%s not set (scripts/test.sh sets it)", var);
	snprintf(cmd, sizeof(cmd), "%s/%s", dir, name);
	cr_assert_eq(system(cmd), 0, "%s failed", cmd);
}

static void run(const char *name)
{
	run_in("VIPL_INSTALL_BIN", name);
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

/* Built against the packages: only the system's paths (no -I, -L). */
Test(install, debian_packages_pkg_config)
{
	run_in("VIPL_DEB_BIN", "consumer_deb");
}

Test(install, debian_packages_pkg_config_static)
{
	run_in("VIPL_DEB_BIN", "consumer_deb_static");
}

Test(install, debian_packages_cmake)
{
	run_in("VIPL_DEB_BIN", "consumer_deb_cmake");
}

/* The packaged tool finds the device. */
Test(install, debian_packages_vipl_info)
{
	if (!getenv("VIPL_DEB_BIN"))
		cr_skip_test("VIPL_DEB_BIN not set (scripts/test.sh sets it)");
	cr_assert_eq(system("/usr/bin/vipl_info >/dev/null"), 0);
}
