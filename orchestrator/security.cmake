# The orchestrator's pure security primitives: the cluster root CA, node
# certificates, join tokens and unlock keys. A library of its own so its
# unit tests link only what they test.
add_library(orch_security STATIC ca.c tokens.c certrenew.c)
target_link_libraries(orch_security PUBLIC swlib PkgConfig::OPENSSL)
