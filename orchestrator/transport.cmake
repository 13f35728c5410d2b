# The node transport (:2377): TLS sessions on libuv streams, channels with
# framing, reconnecting links, and the bridge that carries c-raft's streams
# through the TLS raft channel.
add_library(orch_transport STATIC
	${CMAKE_CURRENT_LIST_DIR}/tls.c
	${CMAKE_CURRENT_LIST_DIR}/transport.c
	${CMAKE_CURRENT_LIST_DIR}/bridge.c)
target_link_libraries(orch_transport PUBLIC swlib orch_security
	PkgConfig::UV PkgConfig::OPENSSL PkgConfig::RAFT)
