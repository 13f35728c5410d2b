# The replicated object store: change encoding, RocksDB-backed store with an
# in-memory index, the raft FSM and the c-raft/raft_uv wrapper.
add_library(orch_store STATIC
	${CMAKE_CURRENT_LIST_DIR}/wire.c
	${CMAKE_CURRENT_LIST_DIR}/change.c
	${CMAKE_CURRENT_LIST_DIR}/store.c
	${CMAKE_CURRENT_LIST_DIR}/fsm.c
	${CMAKE_CURRENT_LIST_DIR}/consensus.c
	${CMAKE_CURRENT_LIST_DIR}/commitstats.c)
target_link_libraries(orch_store PUBLIC swlib PkgConfig::RAFT
	PkgConfig::ROCKSDB PkgConfig::UV)
