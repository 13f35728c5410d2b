# Tests of the replicated store (orchestrator/store.cmake).
foreach(t test_store test_fsm test_consensus)
	swarmd_unit_test(${t} SOURCES ${t}.c LIBS orch_store)
	set_tests_properties(${t} PROPERTIES TIMEOUT 300 ENVIRONMENT
		"ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endforeach()
