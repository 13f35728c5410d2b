# Tests of the node transport (orchestrator/transport.cmake). They open
# sockets on 127.0.0.x only.
foreach(t test_tls test_transport test_bridge)
	swarmd_unit_test(${t} SOURCES ${t}.c LIBS orch_transport)
	set_tests_properties(${t} PROPERTIES TIMEOUT 120 ENVIRONMENT
		"ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endforeach()
