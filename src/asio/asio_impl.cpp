// The single translation unit that holds Asio's compiled implementation
// (BOOST_ASIO_SEPARATE_COMPILATION is set for every user of astmrf::asio).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
